/* endpoint: moved to proto/endpoint.h; this forward stays only while tui/ still includes it here. */
#include "../proto/endpoint.h"
