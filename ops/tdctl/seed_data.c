/*
 * seed_data.c — demo diary entries: ordinary days, written the way people
 * journal, with a mix of positive, negative and neutral thinking so the
 * highlighting and the stats have something to show. Entries of one user
 * are adjacent (diary.seed requires it).
 */
#include "seed_data.h"

const struct seed_user seed_users[] = {
    {"demo@thoughtdiary.example", "Demo-Diary-2026!"},
    {"sam@thoughtdiary.example", "Sam-Journal-2026!"},
    {"alex@thoughtdiary.example", "Alex-Notes-2026!"},
};
const size_t seed_nusers = sizeof seed_users / sizeof seed_users[0];

const struct seed_entry seed_entries[] = {
    {0, 41, 1290, "Started this diary today. I'm a bit nervous about writing things down, but hopeful it will help."},
    {0, 38, 1310, "Work was stressful and I snapped at a colleague. I feel guilty about it."},
    {0, 35, 1275, "Had a lovely walk by the river after dinner. The air was cool and I felt calm."},
    {0, 31, 1335, "I keep thinking I'm not good enough for this job. Nobody said that, it's just my head."},
    {0, 28, 1260, "Apologised to my colleague and she was really kind about it. Relieved."},
    {0, 24, 1300, "Rainy Sunday. Cleaned the kitchen, read a few chapters, nothing special."},
    {0, 21, 1280, "Couldn't sleep again. Worried about money and the rent going up."},
    {0, 17, 1320, "Made a budget tonight. It's tight but it's not as bad as I feared."},
    {0, 14, 1250, "My sister visited and we laughed so much. I'm grateful she's in my life."},
    {0, 10, 1345, "Presentation went well! My manager said it was clear and useful. Proud of myself."},
    {0, 6, 1295, "Felt lonely this evening. Everyone seems busy and I didn't want to bother anyone."},
    {0, 3, 1270, "Called an old friend instead of waiting for someone to call me. Good decision."},
    {0, 1, 1310, "Tired but content. The week was hard and I got through it."},
    {1, 40, 1200, "First week at the new school done. The kids are wonderful, the paperwork is awful."},
    {1, 33, 1215, "A parent complained about my marking. I feel defeated and angry."},
    {1, 27, 1230, "Went climbing with friends. My arms hurt but I feel amazing."},
    {1, 22, 1190, "Dentist at nine, groceries after, then cooked soup for the week."},
    {1, 18, 1240, "I failed my driving test again. Disappointed, but the examiner said I was close."},
    {1, 12, 1205, "A shy student asked a brilliant question in class today. Moments like that make it worth it."},
    {1, 8, 1250, "Anxious about the inspection next week. I keep imagining everything going wrong."},
    {1, 5, 1180, "The inspection was fine. I worried for nothing, which is worth remembering."},
    {1, 2, 1225, "Slept well for the first time in ages. Feeling rested and optimistic."},
    {2, 39, 1400, "Moved into the new flat. Boxes everywhere, but it already feels like home."},
    {2, 34, 1380, "My back pain is back and I'm frustrated that I can't run."},
    {2, 29, 1410, "Physio helped a lot. Small progress is still progress."},
    {2, 25, 1395, "Argument with my partner about chores. We were both tired and unfair."},
    {2, 20, 1420, "We talked it through calmly and made a plan. I love how we fix things together."},
    {2, 16, 1385, "Bought a plant for the balcony. It's green and I hope I don't kill it."},
    {2, 11, 1405, "Got rejected from the job I really wanted. It hurts."},
    {2, 7, 1390, "Friends took me out to cheer me up. I'm lucky to have them."},
    {2, 4, 1415, "Applied to two more jobs. Not excited, not hopeless either. Just doing the next step."},
    {2, 0, 1400, "Ran five kilometres without pain. Happy and thankful for my body today."},
};
const size_t seed_nentries = sizeof seed_entries / sizeof seed_entries[0];
