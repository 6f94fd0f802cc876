"""The ProjectX Gateway API (TopstepX and the other firms on it): REST client, user hub, broker adapter."""
