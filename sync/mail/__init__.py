"""Reset-notification email: tokens, the outbox, rendering and delivery."""
