/* test_analyzer.c — behaviour of the embedded analyzer: negation,
 * intensifiers, phrases, emoji, case and accents, word boundaries, "but",
 * empty and huge input, and arbitrary bytes; and the four classes of
 * issue 15: experience verbs, the fear/anxiety/low-mood family, emphatic
 * negation (its fourth, contrast keeping both clauses, was left out: a
 * contrast is still decided by its later clause); and lexicon-5's learned
 * context (learned_data.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td_utf8.h"
#include "services/sentiment/analyzer.h"

static struct senti_spans g_sp;

static void setup(void) { senti_spans_init(&g_sp); }
static void teardown(void) { senti_spans_free(&g_sp); }

TestSuite(analyzer, .init = setup, .fini = teardown);

/* Renders the spans as "+[happy] -[not good]" for readable asserts. */
static const char *render(const char *text)
{
    static char buf[4096];
    size_t o = 0;
    int rc = senti_analyze(text, strlen(text), &g_sp);
    cr_assert_eq(rc, 0, "senti_analyze returned %d", rc);
    buf[0] = '\0';
    for (size_t i = 0; i < g_sp.count && o + 100 < sizeof buf; i++) {
        const struct senti_span *s = &g_sp.items[i];
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%c[%.*s]",
                              i ? " " : "", s->polarity > 0 ? '+' : '-',
                              (int)(s->end - s->start), text + s->start);
    }
    return buf;
}

static void check_invariants(const char *text, size_t len)
{
    size_t prev = 0;
    for (size_t i = 0; i < g_sp.count; i++) {
        const struct senti_span *s = &g_sp.items[i];
        cr_assert(s->start < s->end && s->end <= len);
        cr_assert(s->start >= prev, "spans overlap or unsorted");
        cr_assert(td_utf8_is_boundary(text, len, s->start));
        cr_assert(td_utf8_is_boundary(text, len, s->end));
        cr_assert(s->polarity == SENTI_POSITIVE || s->polarity == SENTI_NEGATIVE);
        prev = s->end;
    }
}

Test(analyzer, marks_single_positive_word)
{
    cr_assert_str_eq(render("I felt happy today!"), "+[happy]");
}

Test(analyzer, negation_makes_one_flipped_span)
{
    cr_assert_str_eq(render("I'm not happy with it."), "-[not happy]");
    cr_assert_str_eq(render("It was never good."), "-[never good]");
    cr_assert_str_eq(render("It isn't bad."), "+[isn't bad]");
    cr_assert_str_eq(render("I don't feel good."), "-[don't feel good]");
    cr_assert_str_eq(render("I wasn't sad at all."), "+[wasn't sad]");
}

Test(analyzer, negation_with_curly_apostrophe)
{
    cr_assert_str_eq(render("I don\xe2\x80\x99t feel good."),
                     "-[don\xe2\x80\x99t feel good]");
}

Test(analyzer, stop_verb_keeps_polarity)
{
    cr_assert_str_eq(render("I couldn't stop crying."), "-[couldn't stop crying]");
}

Test(analyzer, negated_comparative_stays_positive)
{
    cr_assert_str_eq(render("Never felt better!"), "+[Never felt better]");
    cr_assert_str_eq(render("I could not be happier."), "+[could not be happier]");
}

Test(analyzer, negation_stops_at_clause_break)
{
    cr_assert_str_eq(render("Not today, I am happy."), "+[happy]");
}

Test(analyzer, not_only_is_not_a_negation)
{
    cr_assert_str_eq(render("It was not only good."), "+[good]");
}

Test(analyzer, intensifiers_join_span_and_strengthen)
{
    cr_assert_str_eq(render("I am very happy."), "+[very happy]");
    float strong = g_sp.items[0].weight;
    render("I am happy.");
    float plain = g_sp.items[0].weight;
    render("I am slightly happy.");
    float weak = g_sp.items[0].weight;
    cr_assert(strong > plain && plain > weak, "%f %f %f", strong, plain, weak);
    cr_assert_str_eq(render("It was a bit sad."), "-[a bit sad]");
    cr_assert_str_eq(render("not very good"), "-[not very good]");
}

Test(analyzer, multi_word_phrases)
{
    cr_assert_str_eq(render("I'm fed up with this."), "-[fed up]");
    cr_assert_str_eq(render("I'm over the moon"), "+[over the moon]");
    cr_assert_str_eq(render("Looking forward to it"), "+[Looking forward]");
    cr_assert_str_eq(render("I feel burnt out"), "-[burnt out]");
    cr_assert_str_eq(render("They let down everyone"), "-[let down]");
    cr_assert_str_eq(render("Well done, team"), "+[Well done]");
}

Test(analyzer, emoji_and_emoticons)
{
    cr_assert_str_eq(render("finished it \xf0\x9f\x98\x8a"), "+[\xf0\x9f\x98\x8a]");
    cr_assert_str_eq(render("failed \xf0\x9f\x98\xa2"), "-[failed] -[\xf0\x9f\x98\xa2]");
    cr_assert_str_eq(render("lol \xf0\x9f\x98\x82"), "+[lol] +[\xf0\x9f\x98\x82]");
    /* ❤️ = U+2764 U+FE0F: one token, the selector inside the span */
    cr_assert_str_eq(render("friends \xe2\x9d\xa4\xef\xb8\x8f"),
                     "+[friends] +[\xe2\x9d\xa4\xef\xb8\x8f]");
    cr_assert_str_eq(render("down \xf0\x9f\x98\x9e"), "-[\xf0\x9f\x98\x9e]");
    cr_assert_str_eq(render("see you :) bye"), "+[:)]");
    cr_assert_str_eq(render("http://example.com"), "");
}

Test(analyzer, case_and_accents_fold)
{
    cr_assert_str_eq(render("HAPPY Happy hApPy"), "+[HAPPY] +[Happy] +[hApPy]");
    cr_assert_str_eq(render("Such a na\xc3\xafve plan"), "-[na\xc3\xafve]");
}

Test(analyzer, word_boundaries)
{
    cr_assert_str_eq(render("I am unhappy"), "-[unhappy]");
    cr_assert_str_eq(render("happyland goodish"), "");
    cr_assert_str_eq(render("happy123"), "");
}

Test(analyzer, morphology_falls_back_to_the_stem)
{
    /* Inflections and derivations of lexicon words, spans on the original
     * text; a word the table has is never reinterpreted. */
    cr_assert_str_eq(render("I recommended it to my sister."), "+[recommended]");
    cr_assert_str_eq(render("It was the funniest night."), "+[funniest]");
    cr_assert_str_eq(render("The waiter answered rudely."), "-[rudely]");
    cr_assert_str_eq(render("The sequel was uninteresting."), "-[uninteresting]");
    cr_assert_str_eq(render("My favourite colour is blue."), "+[favourite]");
    cr_assert_str_eq(render("That was sooo goood"), "+[sooo goood]");
    cr_assert_str_eq(render("I loooove it"), "+[loooove]");
    /* "un-" reverses like a negator, so its derived form is negative. */
    cr_assert_str_eq(render("An unsatisfying ending."), "-[unsatisfying]");
}

Test(analyzer, morphology_does_not_invent_sentiment)
{
    /* Stems that are other words, and rule words, are not derived. */
    cr_assert_str_eq(render("All kinds of people came."), "");
    cr_assert_str_eq(render("What does it mean? I was meaning to call."), "");
    cr_assert_str_eq(render("We drank two wines."), "");
    cr_assert_str_eq(render("It extended to the evening."), "");
    cr_assert_str_eq(render("Originally it was red."), "");
}

Test(analyzer, no_false_positive_on_ambiguous_words)
{
    cr_assert_str_eq(render("Looks like rain."), "");
    cr_assert_str_eq(render("I would like to go."), "");
    cr_assert_str_eq(render("The sofa is pretty big."), "");
    cr_assert_str_eq(render("This kind of weather is common here."), "");
    cr_assert_str_eq(render("On the other hand, I went home."), "");
    cr_assert_str_eq(render("He gave me a hand."), "");
    cr_assert_str_eq(render("I'll be back at 6."), "");
    cr_assert_str_eq(render("I will return the book tomorrow."), "");
    cr_assert_str_eq(render("We watched a horror movie."), "");
    cr_assert_str_eq(render("I called tech support."), "");
    cr_assert_str_eq(render("Make sure the door is locked."), "");
    cr_assert_str_eq(render("It costs 10 dollars for 3 items."), "");
    cr_assert_str_eq(render("I went there too, and then home."), "");
}

Test(analyzer, review_phrases_and_vocabulary)
{
    cr_assert_str_eq(render("Stay away from this place."), "-[Stay away]");
    cr_assert_str_eq(render("Total waste of money."), "-[waste of money]");
    cr_assert_str_eq(render("This place rocks!"), "+[rocks]");
    cr_assert_str_eq(render("The acting was abysmal."), "-[abysmal]");
    cr_assert_str_eq(render("The soup was flavorful."), "+[flavorful]");
    cr_assert_str_eq(render("We will definitely be back!"), "+[definitely be back]");
    cr_assert_str_eq(render("We won't be back."), "-[won't be back]");
    cr_assert_str_eq(render("The service was below average."), "-[below average]");
    cr_assert_str_eq(render("The fries were just ok."), "-[just ok]");
    cr_assert_str_eq(render("It works like a charm."), "+[works like a charm]");
    cr_assert_str_eq(render("It stopped working after a week."), "-[stopped working]");
}

Test(analyzer, ratings)
{
    cr_assert_str_eq(render("I give it 10/10."), "+[10/10]");
    cr_assert_str_eq(render("My rating: 3 out of 10."), "-[3 out of 10]");
    cr_assert_str_eq(render("Two stars."), "-[Two stars]");
    cr_assert_str_eq(render("A five-star hotel."), "+[five-star]");
    cr_assert_str_eq(render("3 stars, 6/10."), ""); /* the middle says nothing */
    cr_assert_str_eq(render("Not 5 stars."), "-[Not 5 stars]");
}

Test(analyzer, lack_and_too)
{
    cr_assert_str_eq(render("It lacks a convincing plot."), "-[lacks a convincing]");
    cr_assert_str_eq(render("It was far too sweet."), "-[too sweet]");
    cr_assert_str_eq(render("Too bad it rained."), "-[Too bad]");
    cr_assert_str_eq(render("Not too sweet."), "+[Not too sweet]");
}

/* The weight of span i of the last render(). */
static float weight(size_t i)
{
    cr_assert(i < g_sp.count);
    return g_sp.items[i].weight;
}

Test(analyzer, but_makes_later_clause_win)
{
    const char *t = "The day started badly, but dinner made me so happy.";
    cr_assert_str_eq(render(t), "+[so happy]");
    size_t p, n;
    senti_spans_count(&g_sp, &p, &n);
    cr_assert(p > n);
    /* The earlier clause's span stays where the counts already agree. */
    cr_assert_str_eq(render("It was a sad start, but then the party was fun and lovely."),
                     "-[sad] +[party] +[fun] +[lovely]");
}

/* ---- issue 15: experience verbs -------------------------------------- */

Test(analyzer, experience_verbs_carry_no_sentiment)
{
    cr_assert_str_eq(render("I've been feeling scared lately"), "-[scared]");
    cr_assert_str_eq(render("I'm feeling apprehensive about the exam."),
                     "-[apprehensive]");
    cr_assert_str_eq(render("I've been feeling a lot lately."), "");
    cr_assert_str_eq(render("Feeling it. I feel, I felt, it feels, it seemed."), "");
    cr_assert_str_eq(render("Feeling good today."), "+[good]");
    cr_assert_str_eq(render("I felt lonely all evening."), "-[lonely]");
    /* The word after the verb decides, whatever the verb's form. */
    cr_assert_str_eq(render("Feelin kinda nervous"), "-[kinda nervous]");
}

Test(analyzer, experience_verbs_are_transparent_to_negation)
{
    cr_assert_str_eq(render("I don't really feel happy."), "-[don't really feel happy]");
    cr_assert_str_eq(render("I'm not feeling scared anymore."), "+[not feeling scared]");
    cr_assert_str_eq(render("I don't feel well."), "-[don't feel well]");
    cr_assert_str_eq(render("I feel well rested."), "+[well] +[rested]");
}

Test(analyzer, experience_verb_with_mood_word)
{
    cr_assert_str_eq(render("I feel down today."), "-[feel down]");
    cr_assert_str_eq(render("Been feeling blue since Sunday."), "-[feeling blue]");
    cr_assert_str_eq(render("I felt low after the call."), "-[felt low]");
    cr_assert_str_eq(render("I sat down and felt calm."), "+[calm]");
}

/* ---- issue 15: fear, anxiety and low mood ---------------------------- */

Test(analyzer, fear_anxiety_low_mood_family_is_negative)
{
    static const char *const words[] = {
        "afraid", "apprehensive", "gloomy", "shaken", "discontent", "cranky",
        "scared", "anxious", "spooked", "rattled", "frazzled", "wary",
        "forlorn", "morose", "mopey", "tearful", "listless", "dispirited",
        "crabby", "irked", "grumpy", "homesick", "melancholic", "mortified",
    };
    char text[128];
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        snprintf(text, sizeof text, "I felt %s today.", words[i]);
        char want[64];
        snprintf(want, sizeof want, "-[%s]", words[i]);
        cr_assert_str_eq(render(text), want, "%s", text);
    }
}

Test(analyzer, fear_family_in_context)
{
    cr_assert_str_eq(render("I am afraid of tomorrow."), "-[afraid]");
    cr_assert_str_eq(render("Still a bit shaken after the accident."),
                     "-[a bit shaken] -[accident]");
    cr_assert_str_eq(render("A gloomy, cranky morning."), "-[gloomy] -[cranky]");
    cr_assert_str_eq(render("I'm not afraid anymore."), "+[not afraid]");
    cr_assert_str_eq(render("Been freaking out about money."), "-[freaking out]");
    cr_assert_str_eq(render("I miss her so much."), "-[miss]");
}

/* ---- issue 15: emphatic negation -------------------------------------- */

Test(analyzer, emphatic_negation_of_a_positive_is_positive)
{
    cr_assert_str_eq(render("I couldn't be happier"), "+[couldn't be happier]");
    cr_assert_str_eq(render("I could not feel more blessed"),
                     "+[could not feel more blessed]");
    cr_assert_str_eq(render("I couldn't be prouder of her."), "+[couldn't be prouder]");
    cr_assert_str_eq(render("I can't be any happier."), "+[can't be any happier]");
    cr_assert_str_eq(render("I've never been so happy."), "+[never been so happy]");
    cr_assert_str_eq(render("I couldn't agree more."), "+[couldn't agree more]");
    cr_assert_str_eq(render("I can't thank you enough."), "+[can't thank you enough]");
    cr_assert_str_eq(render("Nothing makes me happier than this."),
                     "+[Nothing makes me happier]");
}

Test(analyzer, emphatic_negation_strengthens_and_keeps_negatives)
{
    cr_assert_str_eq(render("It couldn't be worse."), "-[couldn't be worse]");
    cr_assert_str_eq(render("I've never been so scared."), "-[never been so scared]");
    cr_assert_str_eq(render("I couldn't be happier"), "+[couldn't be happier]");
    float emphatic = weight(0);
    cr_assert_str_eq(render("I am happier"), "+[happier]");
    cr_assert(emphatic > weight(0), "emphatic %f vs plain %f", emphatic, weight(0));
}

Test(analyzer, plain_negation_still_flips)
{
    cr_assert_str_eq(render("I can't be happy here."), "-[can't be happy]");
    cr_assert_str_eq(render("I couldn't find anything good."), "-[couldn't find anything good]");
    cr_assert_str_eq(render("It's not so bad."), "+[not so bad]");
    cr_assert_str_eq(render("I don't feel more confident."), "-[don't feel more confident]");
    cr_assert_str_eq(render("I could never be a lover of jazz."),
                     "-[could never be a lover]");
}

/* ---- contrast: the later clause decides ------------------------------ */

/* Issue 15 (lexicon-4): the writer's own state in a clause that a later
 * "but"/"although" clause overrules keeps its span; reconciliation drops
 * it no more. Under the API's count rule (gateway/docs/openapi.json) one
 * span each way is a tie, so such a line is neutral, a mixed day; with
 * more on the later side it keeps that side's tone. */
Test(analyzer, contrast_keeps_the_overruled_feeling)
{
    size_t p, n;
    cr_assert_str_eq(render("I felt hopeless this morning but the walk made me happy"),
                     "-[hopeless] +[happy]");
    cr_assert_str_eq(render("I felt hopeless this morning but the walk made me happy and calm"),
                     "-[hopeless] +[happy] +[calm]");
    senti_spans_count(&g_sp, &p, &n);
    cr_assert(p > n);
    cr_assert_str_eq(render("I was nervous before the interview, but it went really well!"),
                     "-[nervous] +[really well]");
    cr_assert_str_eq(render("Although I was scared, it went well."), "-[scared] +[well]");
    /* Never more overruled spans than overruling ones: the strongest stays. */
    cr_assert_str_eq(render("I was tired and sad but the walk made me happy"),
                     "-[sad] +[happy]");
}

Test(analyzer, contrast_later_clause_still_decides)
{
    /* Not the writer's state: the earlier clause's span still goes. */
    cr_assert_str_eq(render("It was lovely, but I felt anxious all night."), "-[anxious]");
    cr_assert_str_eq(render("The day started badly, but dinner made me so happy."),
                     "+[so happy]");
    /* Nothing overrules it: no contrast of feelings. */
    cr_assert_str_eq(render("I love the show but the ending."), "+[love]");
}

/* A dangling negator's span ("It doesn't") is no feeling of the writer's:
 * never protected, whatever the sentence or the call before it held (its
 * flag was once read from an unset array slot). */
Test(analyzer, contrast_dangling_negator_is_not_a_feeling)
{
    cr_assert_str_eq(render("I was sad but it was great. It doesn't, but I love it."),
                     "-[sad] +[great] +[love]");
    cr_assert_str_eq(render("It doesn't, but I love it."), "+[love]");
}

/* Reconciliation drops the weakest spans of the losing side, the earliest
 * first among equal weights: a few by one path, many by another. */
Test(analyzer, reconciliation_drops_the_earliest_of_equal_weakest)
{
    char text[256] = "";
    for (int k = 0; k < 12; k++)
        strcat(text, "ok. ");
    for (int k = 0; k < 5; k++)
        strcat(text, "horrible. ");
    cr_assert_str_eq(render(text), "+[ok] +[ok] +[ok] +[ok] -[horrible] -[horrible] "
                                   "-[horrible] -[horrible] -[horrible]");
    cr_assert_eq(g_sp.items[0].start, 32); /* the last four "ok" stay */
    text[0] = '\0';
    for (int k = 0; k < 20; k++)
        strcat(text, "ok. ");
    for (int k = 0; k < 8; k++)
        strcat(text, "horrible. ");
    size_t p, n;
    render(text);
    senti_spans_count(&g_sp, &p, &n);
    cr_assert(p == 7 && n == 8, "%zu/%zu", p, n);
    cr_assert_eq(g_sp.items[0].start, 52); /* the last seven "ok" stay */
}

/* ---- lexicon-4 classes ------------------------------------------------ */

Test(analyzer, denied_negative_is_weak_praise)
{
    cr_assert_str_eq(render("I wasn't offended at all."), "+[wasn't offended]");
    float denied = weight(0);
    cr_assert_str_eq(render("I was pleased."), "+[pleased]");
    cr_assert(denied < weight(0) / 2, "denied %f", (double)denied);
    /* It decides nothing against a real feeling word. */
    cr_assert_str_eq(render("I'm not sad, just tired."), "-[tired]");
}

Test(analyzer, interjections_are_not_negated)
{
    cr_assert_str_eq(render("I'm glad it was not lol"), "+[glad] +[lol]");
    cr_assert_str_eq(render("No lol, that was fun"), "+[lol] +[fun]");
    cr_assert_str_eq(render("ugh, not again"), "-[ugh] -[not again]");
}

Test(analyzer, profanity_without_a_target_is_anger)
{
    cr_assert_str_eq(render("Give me that damn mike!"), "-[damn]");
    cr_assert_str_eq(render("This freaking printer again."), "-[freaking]");
    cr_assert_str_eq(render("That was damn good."), "+[damn good]");
}

Test(analyzer, apology_is_remorse)
{
    cr_assert_str_eq(render("My apologies, I was wrong."), "-[apologies] -[wrong]");
    cr_assert_str_eq(render("I apologise for being late."), "-[apologise]");
}

/* lexicon-5: every word's weight learned from the labelled tuning sets
 * (learned_data.c, tools/gen_learned.py) counts beside the spans' weights
 * when reconciliation picks the spans that carry the verdict. It settles
 * close calls the hand weights got wrong... */
Test(analyzer, learned_context_settles_close_calls)
{
    /* lexicon-4: "+[fun]" (VADER's "fun" 2.3 outweighed "sorry" 1.2) */
    cr_assert_str_eq(render("I am sorry for making fun of my sister."), "-[sorry]");
    /* lexicon-4: "+[\xf0\x9f\x98\x82]" */
    cr_assert_str_eq(render("I just don't like him \xf0\x9f\x98\x82"), "-[don't like]");
}

/* ...but never marks a word of its own: "supposed" and "doctor" are
 * strongly negative in the tuning sets and "tomorrow" positive, yet none is
 * a feeling a diary user would see highlighted. And it only tips the verdict
 * towards a polarity that has a span: a negative context does not empty an
 * entry whose only span is positive. */
Test(analyzer, learned_words_are_never_marked)
{
    cr_assert_str_eq(render("I'm supposed to see the doctor tomorrow."), "");
    cr_assert_str_eq(render("I'm supposed to see the doctor, lucky me."), "+[lucky]");
}

/* A negated word is no evidence of its own polarity: the learned weight of
 * "happy" is taken back in "not happy" (else "<3" would win). */
Test(analyzer, learned_weight_of_a_negated_word_is_taken_back)
{
    cr_assert_str_eq(render("I am not happy <3"), "-[not happy]");
}

/* A bag of words cannot see which clause a "but"/"although" makes win: an
 * entry with an overruled clause keeps the hand verdict. */
Test(analyzer, learned_context_leaves_contrast_alone)
{
    cr_assert_str_eq(render("It was lovely, but I felt anxious all night."), "-[anxious]");
    cr_assert_str_eq(render("Although I was scared, it went well."), "-[scared] +[well]");
}

/* The generated table: sorted (the generator's order), plain words the
 * analyzer can match, finite weights, and a positive scale. */
Test(analyzer, learned_table_is_well_formed)
{
    cr_assert_gt(senti_learned_nwords, 1000);
    cr_assert_gt(senti_learned_scale, 0.0f);
    for (size_t i = 0; i < senti_learned_nwords; i++) {
        const struct senti_lex_word *w = &senti_learned_words[i];
        size_t n = strlen(w->word);
        cr_assert(n > 0 && n < 32, "%s", w->word);
        cr_assert(w->valence != 0.0f && w->valence > -8.0f && w->valence < 8.0f,
                  "%s %f", w->word, (double)w->valence);
        if (i > 0)
            cr_assert_lt(strcmp(senti_learned_words[i - 1].word, w->word), 0);
    }
}

Test(analyzer, empty_and_whitespace)
{
    cr_assert_eq(senti_analyze("", 0, &g_sp), 0);
    cr_assert_eq(g_sp.count, 0);
    cr_assert_eq(senti_analyze(NULL, 0, &g_sp), 0);
    cr_assert_str_eq(render("   \t\n  "), "");
    cr_assert_eq(senti_analyze(NULL, 3, &g_sp), TD_EINVAL);
    cr_assert_eq(senti_analyze("x", 1, NULL), TD_EINVAL);
}

Test(analyzer, ten_thousand_code_points)
{
    /* 10,000 four-byte emoji/words mix: 40,000 bytes. */
    size_t len = 40000;
    char *t = malloc(len);
    cr_assert_not_null(t);
    for (size_t i = 0; i < len; i += 4)
        memcpy(t + i, (i / 4) % 3 ? "\xf0\x9f\x98\x8a" : "\xf0\x9f\x98\xa2", 4);
    cr_assert_eq(senti_analyze(t, len, &g_sp), 0);
    check_invariants(t, len);
    cr_assert(g_sp.count > 0);
    for (size_t i = 0; i < len; i++)
        t[i] = "good bad not happy. "[i % 20];
    cr_assert_eq(senti_analyze(t, len, &g_sp), 0);
    check_invariants(t, len);
    free(t);
}

Test(analyzer, too_long_is_erange)
{
    size_t len = SENTI_MAX_TEXT_BYTES + 1;
    char *t = calloc(1, len);
    cr_assert_not_null(t);
    memset(t, 'a', len);
    cr_assert_eq(senti_analyze(t, len, &g_sp), TD_ETOOBIG);
    free(t);
}

Test(analyzer, arbitrary_bytes_never_crash)
{
    srand(12345);
    char buf[512];
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < len; i++) {
            int r = rand() % 10;
            buf[i] = r < 4 ? (char)(rand() & 0xFF)
                   : r < 8 ? "not happy but sad :) "[rand() % 21]
                           : "\xf0\x9f\x98\x8a\xe2\x80\x99\xc3\xa9"[rand() % 9];
        }
        cr_assert_eq(senti_analyze(buf, len, &g_sp), 0);
        check_invariants(buf, len);
    }
}

Test(analyzer, utf8_boundary_helper)
{
    const char *t = "a\xc3\xa9" "b\xf0\x9f\x98\x8a";
    size_t len = strlen(t);
    cr_assert(td_utf8_is_boundary(t, len, 1));
    cr_assert(!td_utf8_is_boundary(t, len, 2));
    cr_assert(td_utf8_is_boundary(t, len, 3));
    cr_assert(!td_utf8_is_boundary(t, len, 5));
    cr_assert(!td_utf8_is_boundary(t, len, 7));
    cr_assert(td_utf8_is_boundary(t, len, 8));
    cr_assert(!td_utf8_is_boundary(t, len, 9));
    /* invalid bytes are their own units */
    const char *bad = "\x80\xc3(";
    cr_assert(td_utf8_is_boundary(bad, 3, 1));
    cr_assert(td_utf8_is_boundary(bad, 3, 2));
}
