// Deleting a finished request's picture and prompt (the record and its cost stay), from its
// item's button, after a confirmation.
import { api, describeError } from '../api.js';
import { state, announce, shortId } from './state.js';
import { requestList, upsertRequest, statusPatch, deleting } from './request-list.js';

async function deleteRequest(id) {
  const epoch = state.epoch;
  if (deleting.has(id) || !state.requests.has(id)) return;
  if (!window.confirm(`Delete the picture and prompt of request ${shortId(id)}? This cannot be undone.`)) return;
  deleting.add(id);
  upsertRequest({ generationRequestId: id, delete_error: null }, { prepend: false }); // the busy button
  try {
    const data = await api('deleteGenerationRequest', { method: 'POST', body: { generationRequestId: id } });
    if (epoch !== state.epoch) return;
    deleting.delete(id);
    upsertRequest({ ...statusPatch(id, data), prompt: '' }, { prepend: false });
    announce(`Request ${shortId(id)} deleted.`);
  } catch (err) {
    if (epoch !== state.epoch) return;
    deleting.delete(id);
    upsertRequest({ generationRequestId: id, delete_error: describeError(err).message }, { prepend: false });
  }
}

requestList.addEventListener('click', (event) => {
  const button = event.target.closest('[data-testid="request-delete"]');
  if (button) deleteRequest(button.closest('[data-request-id]').dataset.requestId);
});
