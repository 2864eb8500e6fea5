"""Physics: Hamiltonian mechanics of the spring systems and their conserved quantities."""
