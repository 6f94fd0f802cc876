"""What the console shows, computed from recorded events. Pure: no I/O, no clock."""
