"""crowdtask: domain code shared by every function (models, services, store, http)."""
