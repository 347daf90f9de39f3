"""Tasks: the model, requests built from task roles, the resource-manager interface and the executor."""
