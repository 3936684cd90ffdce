"""Fixers: they apply a finding's operations and nothing else."""
