/* A shared object without the entry symbol: must be refused. */
int not_a_plugin(void) { return 42; }
