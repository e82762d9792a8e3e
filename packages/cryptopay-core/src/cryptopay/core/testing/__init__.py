"""In-memory fakes of the ports, for tests and for embedding the core without I/O."""
