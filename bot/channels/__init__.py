"""Platform adapters. Only here is a platform SDK imported."""
