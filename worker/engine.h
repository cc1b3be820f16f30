/* engine.h - placeholder while the engine is written (see the next commit). */
#ifndef DROVER_ENGINE_H
#define DROVER_ENGINE_H
int dr_engine_placeholder(void);
#endif
