"""cryptopay test suite (a regular package so it is never shadowed by a site-packages ``tests``)."""
