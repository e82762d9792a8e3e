"""Repositories of the domain entities; ``SqlUnitOfWork`` offers each as a typed attribute of one transaction."""
