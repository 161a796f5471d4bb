#include "virerror.h"

GQuark
qvirErrorQuark(void)
{
    return g_quark_from_static_string("qvir-error-quark");
}
