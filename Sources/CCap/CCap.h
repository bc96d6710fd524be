// libcap, for capability checks of the daemon and of callers.
#include <sys/capability.h>
