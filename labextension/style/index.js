import './base.css';
import './inline.css';
import './device.css';
import './notebook.css';
