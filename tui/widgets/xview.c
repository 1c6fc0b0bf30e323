/* xview: window arithmetic. Everything is clamped into the data's extent, so no key can push the
 * window or the cursor off the data. */
#include "xview.h"

#include <math.h>

void tui_xview_reset(tui_xview *v)
{
    v->span = 0;
    v->follow = 1;
    v->right = 0;
    v->cursor_on = 0;
    v->cursor = 0;
}

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

void tui_xview_window(tui_xview *v, int64_t lo, int64_t hi, int64_t *from, int64_t *to)
{
    if (hi < lo) hi = lo;
    int64_t ext = hi - lo;
    int64_t span = v->span > 0 && v->span < ext ? v->span : ext;
    int64_t r = v->follow || v->span <= 0 ? hi : clamp64(v->right, lo + span, hi);
    v->lo = lo;
    v->hi = hi;
    v->from = r - span;
    v->to = r;
    if (v->cursor_on) v->cursor = clamp64(v->cursor, lo, hi);
    *from = v->from;
    *to = v->to;
}

/* Keeps the remembered window current after a change, so that several keys between two frames add up. */
static void recompute(tui_xview *v)
{
    int64_t f, t;
    tui_xview_window(v, v->lo, v->hi, &f, &t);
}

void tui_xview_zoom(tui_xview *v, int dir)
{
    int64_t ext = v->hi - v->lo, span = v->to - v->from;
    if (ext <= 0 || dir == 0) return;
    int64_t anchor = v->cursor_on ? v->cursor : v->follow ? v->to : v->from + span / 2;
    if (dir > 0) {
        if (span <= TUI_XVIEW_MIN_SPAN) return;
        int64_t ns = span / 2 < TUI_XVIEW_MIN_SPAN ? TUI_XVIEW_MIN_SPAN : span / 2;
        int64_t nr = anchor + (int64_t)((double)(v->to - anchor) * (double)ns / (double)span);
        v->span = ns;
        if (!v->follow || v->cursor_on) {       /* following without a cursor: keep following */
            v->follow = 0;
            v->right = clamp64(nr, v->lo + ns, v->hi);
        }
    } else {
        int64_t ns = span * 2;
        if (span <= 0 || ns >= ext) {           /* the whole history again: live */
            v->span = 0;
            v->follow = 1;
        } else {
            int64_t nr = anchor + (v->to - anchor) * 2;
            v->span = ns;
            if (nr >= v->hi) v->follow = 1;
            else if (!v->follow) v->right = clamp64(nr, v->lo + ns, v->hi);
        }
    }
    recompute(v);
}

void tui_xview_pan(tui_xview *v, int dir)
{
    int64_t span = v->to - v->from;
    if (v->span <= 0 || span <= 0) return;        /* the whole history: nowhere to pan */
    int64_t d = span / 4 > 0 ? span / 4 : 1;
    int64_t r = v->to + (dir > 0 ? d : -d);
    if (r >= v->hi) {
        v->follow = 1;
    } else {
        v->follow = 0;
        v->right = clamp64(r, v->lo + span, v->hi);
    }
    recompute(v);
}

void tui_xview_cursor(tui_xview *v, int cols)
{
    if (!v->cursor_on) {
        v->cursor_on = 1;
        /* no window drawn yet (keys ahead of the first frame): the right edge, once known */
        v->cursor = v->hi > v->lo || v->to > 0 ? v->to : INT64_MAX;
        if (cols == INT32_MIN) v->cursor = v->lo;
        return;
    }
    if (v->hi <= v->lo) return;
    double spc = v->steps_per_col >= 1 ? v->steps_per_col : 1;
    int64_t c;
    if (cols == INT32_MIN) c = v->lo;
    else if (cols == INT32_MAX) c = v->hi;
    else {
        double d = (double)cols * spc;
        int64_t di = (int64_t)(d < 0 ? floor(d) : ceil(d));
        if (di == 0) di = cols < 0 ? -1 : 1;
        c = v->cursor + di;
    }
    v->cursor = clamp64(c, v->lo, v->hi);
    int64_t span = v->to - v->from;
    if (v->span <= 0) return;                     /* the whole history is in view */
    if (v->cursor > v->to) {
        if (v->cursor >= v->hi) v->follow = 1;
        else { v->follow = 0; v->right = v->cursor; }
    } else if (v->cursor < v->from) {
        v->follow = 0;
        v->right = clamp64(v->cursor + span, v->lo + span, v->hi);
    }
    recompute(v);
}

double tui_xview_factor(const tui_xview *v)
{
    int64_t ext = v->hi - v->lo, span = v->to - v->from;
    return span > 0 && ext > 0 ? (double)ext / (double)span : 1;
}
