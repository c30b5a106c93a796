"""Who may do what: users, their roles, API tokens, and the audit log of writes."""
