// libxml2 is built with ICU on Debian; its headers would pull the system ICU into the module, where it clashes
// with Foundation's copy. Levy needs none of libxml2's ICU declarations, so they are left out.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlerror.h>
