"""The one exception the package build raises for problems a person can fix."""


class BuildError(Exception):
    """A build problem with a message meant for the person running the build."""
