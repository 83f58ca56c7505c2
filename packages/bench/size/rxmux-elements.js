// Bundle-size entry: <rxmux-connection> and a plain element with a ChannelController.
import '@rxmux/elements/define';
import { ChannelController, ControllerHostElement } from '@rxmux/elements';

class HeartRate extends ControllerHostElement {
  beats = new ChannelController(this, 'player-1');
  update() {
    this.textContent = String(this.beats.value);
  }
}
customElements.define('heart-rate', HeartRate);
