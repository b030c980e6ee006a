/* placeholder: the widget lands with the widget issue */
