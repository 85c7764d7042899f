"""Imports from another helpdesk: source readers, the mapping, the runner and the reconciliation report."""
