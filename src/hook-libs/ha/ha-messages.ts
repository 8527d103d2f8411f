/**
 * The ha library's log message ids (Kea's ha_messages.mes, in our words). Every log line the
 * library writes carries one of these as `msgId`.
 */
export const HA_MESSAGES = {
  HA_STATE_TRANSITION: 'the server moved from one HA state to another (old, new, partner state, scopes, paused)',
  HA_STATE_MACHINE_PAUSED: 'the state machine entered a state whose pause rule applies; ha-continue resumes it',
  HA_STATE_MACHINE_CONTINUED: 'ha-continue cleared the pause; the next heartbeat runs the machine again',
  HA_STATE_MACHINE_LOOP: 'a single run made implausibly many transitions and was stopped (a bug)',
  HA_COMMUNICATION_INTERRUPTED: 'no successful heartbeat for longer than max-response-delay',
  HA_HEARTBEAT_COMMUNICATIONS_FAILED: 'a heartbeat to the partner got no answer (warn: the first of a run of failures, then one every 10 s; debug otherwise)',
  HA_HEARTBEAT_FAILED: 'the partner answered a heartbeat with an error or a malformed answer (warn/debug as above)',
  HA_MAX_UNACKED_CLIENTS_IGNORED: 'max-unacked-clients is set above 0, but liveset sees no DHCP clients and ignores it (witnesses guard a split)',
  HA_HIGH_CLOCK_SKEW: "the partner's clock differs by more than 30 s; logged at most once a minute",
  HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION: "the partner's clock differs by more than 60 s; the server terminates HA",
  HA_TERMINATED: 'the server is in the terminated state; fix the cause and restart both servers',
  HA_TERMINATED_RESTART_PARTNER: 'the partner is terminated; this server waits up to 10 minutes for it to be restarted',
  HA_MAINTENANCE_STARTED: 'the partner went in-maintenance; this server serves all scopes',
  HA_MAINTENANCE_SHUTDOWN_SAFE: 'this server is in-maintenance and may be shut down',
  HA_SYNC_START: 'the syncing state (or ha-sync) started a synchronisation with the partner',
  HA_SYNC_SUCCESSFUL: 'the synchronisation completed',
  HA_SYNC_FAILED: 'the synchronisation failed or timed out; syncing retries after the next heartbeat',
  HA_NOTIFY_SCRIPT_FAILED: 'a notify script exited non-zero, could not start, or was killed after its timeout',
  HA_NOTIFY_SCRIPT_DONE: 'a notify script finished (debug)',
  HA_CALLOUT_FAILED: 'a callout at ha_state_transition, ha_sync or ha_partner_failure_check threw',
  HA_WITNESS_VERDICT: 'a witness round reached a different verdict: partner-alive (only our link is cut), partner-failed, or isolated',
  HA_WITNESS_STEPPED_DOWN: 'the partner is silent and the witnesses do not back this server (no majority, or the partner serves our scopes): it serves nothing',
  HA_WITNESS_SERVING_RESUMED: 'the witness rules let this server serve its state\'s scopes again',
  HA_WITNESS_PROBE_FAILED: 'one witness did not answer a probe (debug)',
  HA_WITNESS_ONLY: 'this server is only a witness of the relationship and runs no HA service',
  HA_SERVICE_STARTED: 'the HA service started in waiting',
  HA_SERVICE_STOPPED: 'the HA service stopped (library unloaded)',
} as const;

export type HaMessageId = keyof typeof HA_MESSAGES;
