"""Lock files for a named set of platforms: keep only the hashes of the files they install."""
