"""Tests of stacks: model, YAML files, registry, active-stack precedence, secrets, CLI."""
