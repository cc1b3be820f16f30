/*
 * Association schedules (schedule.h) on hostile text: the text comes off
 * the associations topic, which anyone who can write Kafka can write.
 * Every schedule accepted is asked for its next runs from a few instants,
 * which must move forward.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[512];
    dr_schedule schedule;
    dr_error err = {0};
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (dr_schedule_parse(text, &schedule, &err) != DR_OK)
        return 0;
    static const int64_t from[] = {0, 1796000000000LL, 4102444800000LL, 7258118400000LL};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        int64_t t = from[i];
        for (int n = 0; n < 3 && t >= 0; n++) {
            int64_t next = dr_schedule_next(&schedule, t);
            if (next >= 0 && next <= t)
                abort(); /* a schedule that does not move forward would run forever */
            t = next;
        }
    }
    return 0;
}
