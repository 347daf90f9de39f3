"""Workflow templates used by the environment tests (written into a temporary repository)."""

SMALL = """
name: small
defaults:
  hosts: '["flp001","flp002"]'
  hook_timeout: 5s
roles:
  - name: host-{{ it }}
    for:
      range: "{{ hosts }}"
      var: it
    constraints:
      - attribute: machine_id
        value: "{{ it }}"
    roles:
      - name: worker
        task:
          load: worker
  - name: spare
    task:
      load: worker
      critical: false
  - name: cleanup
    task:
      load: oneshot
      trigger: before_DEPLOY
      timeout: "{{ hook_timeout }}"
      critical: false
  - name: hooks
    roles:
      - name: configure-call
        call:
          func: rec.Configure()
          trigger: before_CONFIGURE
          await: after_CONFIGURE-1
          timeout: 5s
      - name: sor
        call:
          func: rec.StartOfRun()
          trigger: before_START_ACTIVITY+100
          timeout: 5s
      - name: prepare
        call:
          func: rec.Prepare()
          trigger: before_START_ACTIVITY-200
          timeout: 5s
      - name: eor
        call:
          func: rec.EndOfRun()
          trigger: after_STOP_ACTIVITY-50
          timeout: 5s
      - name: destroy-call
        call:
          func: rec.Destroy()
          trigger: DESTROY
          timeout: 5s
          critical: false
"""

#: a critical task and a non-critical one restarted when it fails (at once: no back-off)
RESTARTING = """
name: restarting
roles:
  - name: runner
    task:
      load: worker
  - name: monitor
    task:
      load: worker
      critical: false
      restart: {policy: on-failure, max: 3, window: 60s, backoff: 0s}
"""
