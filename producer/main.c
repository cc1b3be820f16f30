#include <stdio.h>
int main(void) { fprintf(stderr, "drover-producer: not built yet\n"); return 2; }
