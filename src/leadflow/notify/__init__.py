"""Notifications: an outbox written with what it reports, and its delivery with retries."""
