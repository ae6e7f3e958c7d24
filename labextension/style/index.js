import './base.css';
import './inline.css';
import './notebook.css';
