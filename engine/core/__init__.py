"""What every domain stands on: the server and the call table, jobs, the event bus, the store,
errors, bundled assets, registry names and changes, settings as form fields, the device."""
