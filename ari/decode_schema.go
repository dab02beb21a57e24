package ari

// The schema the Decoder checks messages against: which top-level fields
// each event type may have and which of their values it keeps.

// Top-level fields of the event types with a schema, each once. The
// comment says how a value is taken: fill (kept for Map), check (validated
// only: Map does not read it), or its type.
const (
	fApplication     = iota // check
	fDialog                 // check
	fAsteriskID             // check
	fTimestamp              // time
	fType                   // the event type
	fDialstatus             // fill
	fDialstring             // fill
	fForward                // fill
	fContext                // fill
	fExten                  // fill
	fResult                 // fill
	fValue                  // fill
	fVariable               // fill
	fCauseTxt               // check
	fDestApplication        // check
	fDestBridge             // check
	fDestType               // check
	fDigit                  // fill
	fCause                  // int
	fDurationMs             // int, check
	fSoft                   // bool
	fIsExternal             // bool
	// ChannelData values
	fChannel
	fCaller
	fPeer
	fForwarded
	fReplaceChannel
	fTransferee
	fTransferTarget
	fTransfererFirstLeg
	fTransfererSecondLeg
	fDestLinkFirstLeg
	fDestLinkSecondLeg
	fDestThreewayChannel
	// BridgeData values
	fBridge
	fDestThreewayBridge
	fTransfererFirstLegBridge
	fTransfererSecondLegBridge
	nTop

	nStrs    = fCause
	nChans   = fBridge - fChannel
	nBridges = nTop - fBridge
	fUnknown = nTop
)

func topField(k []byte) int {
	switch string(k) {
	case "application":
		return fApplication
	case "dialog":
		return fDialog
	case "asterisk_id":
		return fAsteriskID
	case "timestamp":
		return fTimestamp
	case "type":
		return fType
	case "dialstatus":
		return fDialstatus
	case "dialstring":
		return fDialstring
	case "forward":
		return fForward
	case "context":
		return fContext
	case "exten":
		return fExten
	case "result":
		return fResult
	case "value":
		return fValue
	case "variable":
		return fVariable
	case "cause_txt":
		return fCauseTxt
	case "destination_application":
		return fDestApplication
	case "destination_bridge":
		return fDestBridge
	case "destination_type":
		return fDestType
	case "cause":
		return fCause
	case "digit":
		return fDigit
	case "duration_ms":
		return fDurationMs
	case "soft":
		return fSoft
	case "is_external":
		return fIsExternal
	case "channel":
		return fChannel
	case "caller":
		return fCaller
	case "peer":
		return fPeer
	case "forwarded":
		return fForwarded
	case "replace_channel":
		return fReplaceChannel
	case "transferee":
		return fTransferee
	case "transfer_target":
		return fTransferTarget
	case "transferer_first_leg":
		return fTransfererFirstLeg
	case "transferer_second_leg":
		return fTransfererSecondLeg
	case "destination_link_first_leg":
		return fDestLinkFirstLeg
	case "destination_link_second_leg":
		return fDestLinkSecondLeg
	case "destination_threeway_channel":
		return fDestThreewayChannel
	case "bridge":
		return fBridge
	case "destination_threeway_bridge":
		return fDestThreewayBridge
	case "transferer_first_leg_bridge":
		return fTransfererFirstLegBridge
	case "transferer_second_leg_bridge":
		return fTransfererSecondLegBridge
	}
	return fUnknown
}

func bits(fs ...int) (m uint64) {
	for _, f := range fs {
		m |= 1 << f
	}
	return m
}

// declared is, per event type, the fields its ari/v5 struct declares (the
// embedded EventData's included); other keys are ignored as
// encoding/json ignores them.
var declared = func() (d [tChannelDtmfReceived + 1]uint64) {
	base := bits(fApplication, fDialog, fAsteriskID, fTimestamp, fType)
	d[tChannelCreated] = base | bits(fChannel)
	d[tChannelStateChange] = base | bits(fChannel)
	d[tChannelConnectedLine] = base | bits(fChannel)
	d[tDial] = base | bits(fCaller, fDialstatus, fDialstring, fForward, fForwarded, fPeer)
	d[tChannelEnteredBridge] = base | bits(fBridge, fChannel)
	d[tChannelLeftBridge] = base | bits(fBridge, fChannel)
	d[tBridgeBlindTransfer] = base | bits(fBridge, fChannel, fContext, fExten, fIsExternal, fReplaceChannel, fResult, fTransferee)
	d[tBridgeAttendedTransfer] = base | bits(fDestApplication, fDestBridge, fDestLinkFirstLeg, fDestLinkSecondLeg,
		fDestThreewayBridge, fDestThreewayChannel, fDestType, fIsExternal, fReplaceChannel, fResult, fTransferTarget,
		fTransferee, fTransfererFirstLeg, fTransfererFirstLegBridge, fTransfererSecondLeg, fTransfererSecondLegBridge)
	d[tChannelVarset] = base | bits(fChannel, fValue, fVariable)
	d[tChannelHangupRequest] = base | bits(fCause, fChannel, fSoft)
	d[tChannelDestroyed] = base | bits(fCause, fCauseTxt, fChannel)
	d[tChannelDtmfReceived] = base | bits(fChannel, fDigit, fDurationMs)
	return d
}()

// fill marks the string fields whose value is kept.
var fill = bits(fDialstatus, fDialstring, fForward, fContext, fExten, fResult, fValue, fVariable, fDigit)
