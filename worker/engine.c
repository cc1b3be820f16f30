#include "engine.h"
int dr_engine_placeholder(void) { return 0; }
