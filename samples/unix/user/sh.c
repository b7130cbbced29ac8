// sh: the shell. A line is pipelines separated by ';'; a pipeline is commands separated by
// '|'; a command is words with optional '< file' and '> file'. '#' starts a comment. `cd` is
// built in. Commands run in children, and the shell waits for a whole pipeline before going
// on, so what a session prints never depends on scheduling.
#include "user.h"

#define MAXLINE   128
#define MAXWORDS  64
#define MAXSTAGES 8
#define SPACE     " \t\r\n"
#define OPS       "|<>;"

struct cmd {
    char *argv[MAXARG + 1];
    char *in;    // '<' file, or 0
    char *out;   // '>' file, or 0
};

static int isop(const char *w, char op)
{
    return w[0] == op && w[1] == 0;
}

// Split line in place into words; each operator character is a word of its own.
// The number of words, or -1 if there are too many.
static int tokenize(char *s, char **words)
{
    static char opwords[][2] = { "|", "<", ">", ";" };
    int n = 0;
    while (*s) {
        if (strchr(SPACE, *s)) {
            *s++ = 0;
            continue;
        }
        if (n == MAXWORDS)
            return -1;
        const char *op = strchr(OPS, *s);
        if (op) {
            words[n++] = opwords[op - OPS];
            *s++ = 0;   // also ends a word right before the operator
            continue;
        }
        words[n++] = s;
        while (*s && !strchr(SPACE OPS, *s))
            s++;
    }
    return n;
}

// Parse the words of one command: 0, or -1 after a message.
static int parsecmd(char **w, int n, struct cmd *c)
{
    int argc = 0;
    c->in = c->out = 0;
    for (int i = 0; i < n; i++) {
        if (isop(w[i], '<') || isop(w[i], '>')) {
            if (i + 1 == n || strchr(OPS, w[i + 1][0])) {
                fprintf(2, "sh: missing file name after %s\n", w[i]);
                return -1;
            }
            if (isop(w[i], '<'))
                c->in = w[++i];
            else
                c->out = w[++i];
        } else {
            if (argc == MAXARG) {
                fprintf(2, "sh: too many arguments\n");
                return -1;
            }
            c->argv[argc++] = w[i];
        }
    }
    c->argv[argc] = 0;
    if (argc == 0) {
        fprintf(2, "sh: missing command\n");
        return -1;
    }
    return 0;
}

// In a child: apply the redirections and run the command. Does not return.
static void runcmd(struct cmd *c)
{
    if (c->in) {
        close(0);
        if (open(c->in, O_RDONLY) != 0) {
            fprintf(2, "sh: cannot open %s\n", c->in);
            exit(1);
        }
    }
    if (c->out) {
        close(1);
        if (open(c->out, O_WRONLY | O_CREATE | O_TRUNC) != 1) {
            fprintf(2, "sh: cannot create %s\n", c->out);
            exit(1);
        }
    }
    exec(c->argv[0], c->argv);
    if (!strchr(c->argv[0], '/')) {   // programs live in /: find them from anywhere
        char path[MAXPATH];
        path[0] = '/';
        if (strlen(c->argv[0]) + 2 <= sizeof(path)) {
            strcpy(path + 1, c->argv[0]);
            exec(path, c->argv);
        }
    }
    fprintf(2, "sh: %s: not found\n", c->argv[0]);
    exit(1);
}

// Run one pipeline (words w[0..n)) and wait for all of it.
static void runpipeline(char **w, int n)
{
    struct cmd cmds[MAXSTAGES];
    int ncmd = 0, start = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && !isop(w[i], '|'))
            continue;
        if (ncmd == MAXSTAGES) {
            fprintf(2, "sh: pipeline too long\n");
            return;
        }
        if (parsecmd(w + start, i - start, &cmds[ncmd++]) < 0)
            return;
        start = i + 1;
    }

    if (ncmd == 1 && strcmp(cmds[0].argv[0], "cd") == 0) {   // must change *our* directory
        const char *dir = cmds[0].argv[1] ? cmds[0].argv[1] : "/";
        if (chdir(dir) < 0)
            fprintf(2, "sh: cannot cd %s\n", dir);
        return;
    }

    int prev = -1, started = 0;   // prev: read end of the pipe from the previous stage
    for (int k = 0; k < ncmd; k++) {
        int p[2];
        int last = k == ncmd - 1;
        if (!last && pipe(p) < 0) {
            fprintf(2, "sh: pipe failed\n");
            break;
        }
        int pid = fork();
        if (pid < 0) {
            fprintf(2, "sh: fork failed\n");
            if (!last) {
                close(p[0]);
                close(p[1]);
            }
            break;
        }
        if (pid == 0) {
            if (prev >= 0) {
                close(0);
                dup(prev);
                close(prev);
            }
            if (!last) {
                close(1);
                dup(p[1]);
                close(p[0]);
                close(p[1]);
            }
            runcmd(&cmds[k]);
        }
        started++;
        if (prev >= 0)
            close(prev);
        prev = -1;
        if (!last) {
            close(p[1]);
            prev = p[0];
        }
    }
    if (prev >= 0)   // a stage failed to start
        close(prev);
    while (started-- > 0)
        wait(0);
}

static void runline(char *line)
{
    char *words[MAXWORDS];
    char *hash = strchr(line, '#');
    if (hash)
        *hash = 0;
    int n = tokenize(line, words);
    if (n < 0) {
        fprintf(2, "sh: line too long\n");
        return;
    }
    for (int start = 0, i = 0; i <= n; i++)
        if (i == n || isop(words[i], ';')) {
            if (i > start)
                runpipeline(words + start, i - start);
            start = i + 1;
        }
}

int main(void)
{
    static char line[MAXLINE];
    for (;;) {
        fprintf(2, "$ ");
        gets(line, sizeof(line));
        if (line[0] == 0)   // end of input
            break;
        runline(line);
    }
    return 0;
}
