_flowctl_completion() {
    local IFS=$'
'
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    # diff's @FILE: bash splits it into `@` and FILE (COMP_WORDBREAKS) yet replaces both on TAB
    if [[ $cur == @ || $prev == @ ]]; then
        [[ $cur == @ ]] && cur=
        COMPREPLY=( $(compgen -P @ -f -- "$cur") )
        return 0
    fi
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _FLOWCTL_COMPLETE_NOTHING=1 _FLOWCTL_COMPLETE=complete_bash $1 ) )
    if [[ ${COMPREPLY[*]} == *%flowctl-nothing% ]]; then
        COMPREPLY=()  # a FLOW or version with nothing to offer, e.g. outside a store
    elif (( ${#COMPREPLY[@]} == 0 )); then
        # a value flowctl does not complete: --config FILE, import FILE, init DIR
        COMPREPLY=( $(compgen -f -- "$cur") )
        compopt -o filenames 2>/dev/null  # quoted, and / after a directory (works from a TAB only)
    fi
    return 0
}

complete -F _flowctl_completion flowctl
