/* relay: a node-local forwarder — probes' messages up to a head collector, its control messages back
 * down — built from nanomsg's own device (nn_device on raw sockets), not a hand-written broker. */
#ifndef TT_RELAY_H
#define TT_RELAY_H

#include <stddef.h>

typedef struct tt_relay tt_relay;

/* Binds listen (ingest and control sockets, as a collector would) and connects to head's; starts the
 * two device threads. NULL with err when a socket cannot be set up. */
tt_relay *tt_relay_start(const char *listen, const char *head, char *err, size_t errlen);
/* Stops the devices (nn_term ends every nanomsg socket of the process) and joins the threads. */
void tt_relay_stop(tt_relay *r);

#endif
