"""The Tradovate API (Apex and the other firms on it): REST client, WebSocket, broker adapter."""
