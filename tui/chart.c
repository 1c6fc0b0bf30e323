/* chart: axis math, the dot canvas and the chart drawing over it. */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

double tui_nice_num(double x, int round)
{
    if (!(x > 0) || !isfinite(x)) return 1;
    double e = floor(log10(x));
    double p = pow(10, e);
    double f = x / p, nf;
    if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * p;
}

/* The next nice step above s (1 → 2 → 5 → 10). */
static double nice_up(double s)
{
    double e = floor(log10(s) + 1e-9);
    double p = pow(10, e);
    double f = s / p;
    return (f < 1.5 ? 2 : f < 3.5 ? 5 : 10) * p;
}

int tui_axis_compute(double dmin, double dmax, int max_ticks, tui_axis *ax)
{
    if (!isfinite(dmin) || !isfinite(dmax)) return -1;
    if (dmin > dmax) { double t = dmin; dmin = dmax; dmax = t; }
    if (max_ticks < 3) max_ticks = 3;        /* a range around 0 needs -s, 0, s */
    if (max_ticks > TUI_AXIS_MAX_TICKS) max_ticks = TUI_AXIS_MAX_TICKS;
    if (dmax - dmin <= fabs(dmax) * 1e-12) {
        double pad = dmin == 0 ? 1 : fabs(dmin) * 0.1;
        dmin -= pad;
        dmax += pad;
    }
    double range = tui_nice_num(dmax - dmin, 0);
    double step = tui_nice_num(range / (max_ticks - 1), 1);
    double klo, khi;
    for (int guard = 0; guard < 64; guard++) {
        klo = floor(dmin / step + 1e-9);
        khi = ceil(dmax / step - 1e-9);
        if (khi <= klo) khi = klo + 1;
        if (khi - klo + 1 <= max_ticks) break;
        step = nice_up(step);
    }
    if (!isfinite(step) || !isfinite(klo * step) || !isfinite(khi * step)) return -1;
    ax->step = step;
    ax->lo = klo * step;
    ax->hi = khi * step;
    ax->nticks = (int)(khi - klo) + 1;
    for (int i = 0; i < ax->nticks; i++) ax->tick[i] = (klo + i) * step;
    return 0;
}

int tui_axis_dot(const tui_axis *ax, double v, int ndots)
{
    if (ndots <= 1 || !(ax->hi > ax->lo)) return 0;
    double t = (ax->hi - v) / (ax->hi - ax->lo);
    if (!(t > 0)) return 0;
    if (t >= 1) return ndots - 1;
    return (int)lround(t * (ndots - 1));
}

/* ---- canvas ---- */

void tui_canvas_init(tui_canvas *c, int w, int h, int ascii, unsigned char *bits, unsigned char *role)
{
    c->w = w;
    c->h = h;
    c->ascii = ascii;
    c->dx = ascii ? 1 : 2;
    c->dy = ascii ? 3 : 4;
    c->bits = bits;
    c->role = role;
    memset(bits, 0, (size_t)w * (size_t)h);
    memset(role, 0, (size_t)w * (size_t)h);
}

void tui_canvas_dot(tui_canvas *c, int x, int y, int role)
{
    if (x < 0 || y < 0 || x >= c->w * c->dx || y >= c->h * c->dy) return;
    int cx = x / c->dx, cy = y / c->dy, sx = x % c->dx, sy = y % c->dy;
    unsigned char bit;
    if (c->ascii) {
        bit = (unsigned char)(1u << sy);
    } else {
        static const unsigned char braille[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 } };
        bit = braille[sy][sx];
    }
    size_t i = (size_t)cy * (size_t)c->w + (size_t)cx;
    c->bits[i] |= bit;
    c->role[i] = (unsigned char)role;
}

void tui_canvas_line(tui_canvas *c, int x0, int y0, int x1, int y1, int role)
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
    int dy = y1 > y0 ? -(y1 - y0) : -(y0 - y1), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int guard = 0; guard < 1 << 20; guard++) {
        tui_canvas_dot(c, x0, y0, role);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

const char *tui_canvas_glyph(const tui_canvas *c, int cx, int cy, char buf[8])
{
    unsigned char b = c->bits[(size_t)cy * (size_t)c->w + (size_t)cx];
    if (!b) return NULL;
    if (c->ascii) {
        /* bit 0 top, 1 middle, 2 bottom; two or more: a vertical stroke */
        static const char g[8] = { ' ', '\'', '-', '|', '_', '|', '|', '|' };
        buf[0] = g[b & 7];
        buf[1] = '\0';
        return buf;
    }
    unsigned cp = 0x2800u + b;              /* 3-byte UTF-8 */
    buf[0] = (char)(0xE0 | (cp >> 12));
    buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = (char)(0x80 | (cp & 0x3F));
    buf[3] = '\0';
    return buf;
}

/* ---- chart ---- */

#define ENVELOPE 64          /* role offset of envelope dots: drawn dim */

static int step_to_dot(int64_t s, int64_t from, int64_t to, int ndots)
{
    if (to <= from || ndots <= 1) return ndots - 1;
    double t = (double)(s - from) / (double)(to - from);
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return (int)lround(t * (ndots - 1));
}

/* The legend: title, then per line "━label value"; an entry that does not fit whole goes to the next
 * of at most maxrows rows, or is left out behind an ellipsis. Returns the rows used. */
static int legend(WINDOW *win, int y, int x, int w, int maxrows, const char *title, const tui_chart_line *lines,
                  int n, int ascii)
{
    int col = 0, row = 0;
    if (title && title[0]) {
        col += tui_puts(win, y, x, w, title, A_BOLD);
    }
    for (int i = 0; i < n; i++) {
        char num[TUI_FMT_MAX];
        tui_fmt_num(num, sizeof num, lines[i].last);
        int need = (col > 0) + 1 + tui_text_width(lines[i].name) + 1 + (int)strlen(num);
        if (col + need > w && col > 0 && row + 1 < maxrows) {
            row++;
            col = 0;
            need--;
        }
        if (col + need > w) {
            if (col < w) tui_puts(win, y + row, x + col, w - col, ascii ? "~" : "\u2026", tui_attr(TUI_A_DIM));
            break;
        }
        attr_t sa = tui_attr((tui_role)(TUI_A_SERIES0 + i % TUI_NSERIES));
        if (col > 0) col += tui_puts(win, y + row, x + col, w - col, " ", 0);
        col += tui_puts(win, y + row, x + col, w - col, ascii ? "-" : "\u2501", sa | A_BOLD);
        col += tui_puts(win, y + row, x + col, w - col, lines[i].name, sa | A_BOLD);
        col += tui_puts(win, y + row, x + col, w - col, " ", 0);
        col += tui_puts(win, y + row, x + col, w - col, num, isfinite(lines[i].last) ? 0 : tui_attr(TUI_A_BAD));
    }
    return row + 1;
}

static void centered(WINDOW *win, int y, int x, int w, const char *msg)
{
    int tw = tui_text_width(msg);
    tui_puts(win, y, x + (tw < w ? (w - tw) / 2 : 0), w, msg, tui_attr(TUI_A_DIM));
}

void tui_chart_draw(WINDOW *win, int y, int x, int h, int w, const char *title, const tui_chart_line *lines,
                    int nlines, int64_t from, int64_t to, int ascii, tui_buf *scratch)
{
    if (h < 1 || w < 1) return;
    int lrows = legend(win, y, x, w, h >= 8 ? 2 : 1, title, lines, nlines, ascii);
    y += lrows - 1;                           /* from here on, y is the (last) legend row */
    h -= lrows - 1;
    if (h < 3 || nlines <= 0) return;

    int xlabels = h >= 8;
    int ph = h - 1 - xlabels;                 /* plot rows */
    int dy = ascii ? 3 : 4, dx = ascii ? 1 : 2;
    int pw_max = w;                           /* plot columns before the tick labels are known */
    size_t maxpts = (size_t)pw_max * (size_t)dx;
    size_t need = (size_t)nlines * maxpts * sizeof(tt_point) + 2 * (size_t)pw_max * (size_t)ph;
    unsigned char *mem = tui_buf_reserve(scratch, need);
    if (!mem) return;
    tt_point *pts = (tt_point *)mem;
    unsigned char *bits = mem + (size_t)nlines * maxpts * sizeof(tt_point);
    unsigned char *roles = bits + (size_t)pw_max * (size_t)ph;

    /* Bucket counts depend on the plot width, which depends on the label width: query at the widest
     * plausible plot, then re-query once the labels are known (cheap: both are bounded by w). */
    size_t npt[16];
    if (nlines > 16) nlines = 16;
    double dmin = INFINITY, dmax = -INFINITY;
    for (int i = 0; i < nlines; i++) {
        npt[i] = lines[i].s ? tt_series_query(lines[i].s, from, to, maxpts, pts + (size_t)i * maxpts) : 0;
        for (size_t k = 0; k < npt[i]; k++) {
            const tt_point *p = &pts[(size_t)i * maxpts + k];
            if (p->finite == 0) continue;
            if (isfinite(p->min) && p->min < dmin) dmin = p->min;
            if (isfinite(p->max) && p->max > dmax) dmax = p->max;
        }
    }
    tui_axis ax;
    int max_ticks = ph / 2 + 1;
    if (max_ticks > 6) max_ticks = 6;
    if (!(dmin <= dmax) || tui_axis_compute(dmin, dmax, max_ticks, &ax) != 0) {
        centered(win, y + 1 + (ph - 1) / 2, x, w, "no finite data");
        return;
    }
    char lab[TUI_AXIS_MAX_TICKS][TUI_FMT_MAX];
    int lw = 1;
    for (int t = 0; t < ax.nticks; t++) {
        tui_fmt_num(lab[t], sizeof lab[t], ax.tick[t]);
        int l = (int)strlen(lab[t]);
        if (l > lw) lw = l;
    }
    int px = x + lw + 1, pw = w - lw - 1;
    if (pw < 4) return;
    int DW = pw * dx, DH = ph * dy;
    if ((size_t)DW < maxpts) {
        for (int i = 0; i < nlines; i++)
            npt[i] = lines[i].s ? tt_series_query(lines[i].s, from, to, (size_t)DW, pts + (size_t)i * maxpts) : 0;
    }

    tui_canvas cv;
    tui_canvas_init(&cv, pw, ph, ascii, bits, roles);
    int bad_col[1024];
    int nbad = 0;
    /* envelopes first, dim; then the lines through the means, which win the cells they cross */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nlines; i++) {
            int role = TUI_A_SERIES0 + i % TUI_NSERIES + (pass == 0 ? ENVELOPE : 0);
            int have_prev = 0, prev_x = 0, prev_y = 0;
            for (size_t k = 0; k < npt[i]; k++) {
                const tt_point *p = &pts[(size_t)i * maxpts + k];
                int xa = step_to_dot(p->first, from, to, DW), xb = step_to_dot(p->step, from, to, DW);
                if (pass == 1 && p->finite < p->count && nbad < 1024) bad_col[nbad++] = (xa + xb) / 2 / dx;
                if (p->finite == 0 || !isfinite(p->mean)) { have_prev = 0; continue; }
                if (pass == 0) {
                    int ytop = tui_axis_dot(&ax, p->max, DH), ybot = tui_axis_dot(&ax, p->min, DH);
                    if (ybot - ytop > 1)
                        for (int xx = xa; xx <= xb; xx++) tui_canvas_line(&cv, xx, ytop, xx, ybot, role);
                    continue;
                }
                int cxm = (xa + xb) / 2, cym = tui_axis_dot(&ax, p->mean, DH);
                if (have_prev) tui_canvas_line(&cv, prev_x, prev_y, cxm, cym, role);
                else tui_canvas_dot(&cv, cxm, cym, role);
                have_prev = 1;
                prev_x = cxm;
                prev_y = cym;
            }
        }
    }

    /* y tick labels and the axis line */
    int taken[256] = { 0 };
    attr_t axa = tui_attr(TUI_A_AXIS);
    for (int r = 0; r < ph; r++)
        tui_puts(win, y + 1 + r, px - 1, 1, ascii ? "|" : "\u2502", axa);
    for (int t = ax.nticks - 1; t >= 0; t--) {
        int r = tui_axis_dot(&ax, ax.tick[t], DH) / dy;
        if (r < 0 || r >= ph || r >= 256 || taken[r]) continue;
        taken[r] = 1;
        tui_put(win, y + 1 + r, x, lw, lab[t], axa, TUI_RIGHT, ascii);
        tui_puts(win, y + 1 + r, px - 1, 1, ascii ? "+" : "\u2524", axa);
    }
    /* the dots */
    for (int cy = 0; cy < ph; cy++) {
        for (int cx = 0; cx < pw; cx++) {
            char g[8];
            const char *s = tui_canvas_glyph(&cv, cx, cy, g);
            int role = roles[cy * pw + cx];
            attr_t at = role >= ENVELOPE ? tui_attr((tui_role)(role - ENVELOPE)) | A_DIM : tui_attr((tui_role)role);
            if (s) tui_puts(win, y + 1 + cy, px + cx, 1, s, at);
        }
    }
    /* steps holding NaN/Inf: a mark on the top row */
    for (int b = 0; b < nbad; b++)
        if (bad_col[b] >= 0 && bad_col[b] < pw)
            tui_puts(win, y + 1, px + bad_col[b], 1, ascii ? "!" : "\u00d7", tui_attr(TUI_A_BAD));
    if (xlabels) {
        char a[TUI_FMT_MAX], b[TUI_FMT_MAX];
        tui_fmt_count(a, sizeof a, from < 0 ? 0 : (uint64_t)from);
        tui_fmt_count(b, sizeof b, to < 0 ? 0 : (uint64_t)to);
        int ry = y + h - 1;
        tui_puts(win, ry, px, pw, a, axa);
        int bw = (int)strlen(b);
        if (bw + (int)strlen(a) + 2 <= pw) tui_puts(win, ry, px + pw - bw, bw, b, axa);
    }
}
