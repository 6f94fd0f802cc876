"""Markets as they really trade: exchange calendars and futures contract months."""
