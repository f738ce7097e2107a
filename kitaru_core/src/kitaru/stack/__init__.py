"""Stacks: which component of each type executions use, and how they are configured."""
