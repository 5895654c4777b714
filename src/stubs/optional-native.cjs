// Stands in for dbus-next's optional native modules (x11, usocket). Throwing here takes dbus-next's own
// fallback path (plain net sockets) instead of printing a "module not found" warning into the journal.
throw new Error('optional native module not included in the postjoin bundle');
