# Bash completion for xm, the Xen command line of xend.
#
# Install: copy to /usr/share/bash-completion/completions/xm (or source it).
# Command names come from "xm help", so they never drift from xm itself; VM,
# SR and VDI names come from the running daemon through "xm ... --json", using
# the --socket/--uri/--user options already typed on the line.

_xm_connection_args() {
    # The connection options on the current line, to reach the same daemon.
    local i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case "${COMP_WORDS[i]}" in
            --socket|--uri|--user|--cacert|--fingerprint) printf '%s\n%s\n' "${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}" ;;
        esac
    done
}

_xm_names() {
    # Names of the objects a listing command prints as JSON: _xm_names list | sr-list | vdi-list
    local -a conn
    mapfile -t conn < <(_xm_connection_args)
    # Never prompt while completing: no stdin, and over TCP an unset password is empty.
    XEND_PASSWORD="${XEND_PASSWORD-}" xm "${conn[@]}" "$1" --json 2>/dev/null </dev/null |
        python3 -c 'import json, sys
for record in json.load(sys.stdin):
    print(record.get("name_label", ""))' 2>/dev/null | sort -u
}

_xm_reply() {
    # COMPREPLY: the names read from stdin, one a line, that complete $cur, each quoted
    # so that the shell reads it back as one argument ("Local storage" -> Local\ storage).
    # $cur is matched as typed with its quoting removed: 'Local s, "Local s or Local\ s.
    local name typed="$cur"
    case "$typed" in
        \'*|\"*) typed="${typed:1}" ;;
        *) typed="${typed//\\/}" ;;
    esac
    COMPREPLY=()
    while IFS= read -r name; do
        [[ -n "$name" && "$name" == "$typed"* ]] && COMPREPLY+=("$(printf '%q' "$name")")
    done
}

_xm_commands() {
    xm help 2>/dev/null | awk '/^  [a-z][a-z-]* / { print $1 }'
}

_xm() {
    local cur prev cmd i arg=0
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"

    # Find the command and which positional argument is being completed.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --socket|--uri|--user|--cacert|--fingerprint|--nic|--fullname|-n|--count|\
            --kind|--bytes) ((i++)) ;;
            -*) ;;
            *) if [[ -z "$cmd" ]]; then cmd="${COMP_WORDS[i]}"; else ((arg++)); fi ;;
        esac
    done

    case "$prev" in
        --socket|--cacert) compopt -o filenames; COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --kind) COMPREPLY=($(compgen -W "qemu console daemon" -- "$cur")); return ;;
        --uri|--user|--nic|--fullname|-n|--count|--bytes) return ;;
    esac

    if [[ -z "$cmd" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=($(compgen -W "--socket --uri --user --cacert --fingerprint --help" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_xm_commands)" -- "$cur"))
        fi
        return
    fi

    if [[ "$cur" == -* ]]; then
        local opts="--help --socket --uri --user --cacert --fingerprint"
        case "$cmd" in
            list) opts+=" --json --long" ;;
            vcpu-list|block-list|network-list|sr-list|vdi-list|info|task-list) opts+=" --json" ;;
            event-monitor) opts+=" --json --count" ;;
            start) opts+=" --paused --console" ;;
            resume) opts+=" --paused" ;;
            migrate) opts+=" --live" ;;
            create) opts+=" --console" ;;
            console) opts+=" --read-only --dump" ;;
            vncviewer) opts+=" --vncviewer-autopass" ;;
            shutdown|reboot) opts+=" --wait" ;;
            network-new) opts+=" --nic" ;;
            user-add) opts+=" --fullname" ;;
            log) opts+=" --kind --bytes" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    local IFS=$'\n'
    case "$cmd:$arg" in
        help:0)
            COMPREPLY=($(compgen -W "$(_xm_commands)" -- "$cur")) ;;
        create:0|new:0)
            compopt -o filenames; COMPREPLY=($(compgen -f -- "$cur")) ;;
        list:*|vcpu-list:*|delete:0|start:0|pause:0|unpause:0|shutdown:0|reboot:0|\
        destroy:0|suspend:0|resume:0|migrate:0|clone:0|rename:0|mem-set:0|log:0|console:0|\
        vncviewer:0|block-list:0|block-attach:0|block-detach:0|network-list:0|network-attach:0|network-detach:0)
            _xm_reply < <(_xm_names list) ;;
        block-attach:1|vdi-snapshot:0|vdi-delete:0|vdi-resize:0|vdi-import:0|vdi-export:0)
            _xm_reply < <(_xm_names vdi-list) ;;
        vdi-import:1|vdi-export:1)
            compopt -o filenames; COMPREPLY=($(compgen -f -- "$cur")) ;;
        block-attach:3)
            COMPREPLY=($(compgen -W "w r" -- "$cur")) ;;
        vdi-create:0|vdi-list:0|sr-scan:0|sr-delete:0)
            _xm_reply < <(_xm_names sr-list) ;;
        sr-create:1)
            COMPREPLY=($(compgen -W "dir file" -- "$cur")) ;;
        sr-introduce:1)
            COMPREPLY=($(compgen -W "image iso block" -- "$cur")) ;;
        sr-create:2|sr-introduce:2)
            compopt -o filenames; COMPREPLY=($(compgen -d -- "$cur")) ;;
    esac
}

complete -F _xm xm
