"""The gateway's database: conversations, messages, handoffs, counsellors, audit log, outbox."""
