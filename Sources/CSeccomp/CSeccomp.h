// libseccomp, for nsfs-oci: an OCI profile compiled to the BPF the
// container's process loads (runc and crun use the same library).
#include <seccomp.h>
