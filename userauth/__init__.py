"""userauth: a self-hostable user authentication service."""
