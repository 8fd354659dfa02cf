"""Flask adapter: parse -> validate against the contract -> call the domain -> serialize."""
