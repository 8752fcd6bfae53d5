"""The lab around the core: MNIST fetched and checked, runs stamped and stored, several seeds and sweeps side by side,
stored runs re-checked, and the report, tables and plots drawn from them. It imports the core; the core never
imports it."""
