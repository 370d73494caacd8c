"""Build the Lambda deployment zip: target, sources, dependencies, bytecode, archive."""
