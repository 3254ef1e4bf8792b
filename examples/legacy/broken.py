"""An app that cannot be imported: gnrhost must refuse to serve it and say why."""
import a_module_that_does_not_exist  # noqa: F401

application = None
